/*
 * test_dtconv.c - float element conversion (src/engine/dtconv.h): every pair
 * against PyTorch's bytes in fixtures/dtconv/ (made by
 * fixtures/make_dtconv.py), streaming and in-place use, and literal cases
 * that need no data files.  Every check runs on every path this CPU can
 * run (scalar, AVX2, AVX-512: dtconv_run_path), each named in failures.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/dtconv.h"
#include "torch/dtype.h"

#define FIXDIR "fixtures/dtconv/"

static unsigned char *g_src, *g_want, *g_got;

static void dtconv_fini(void)
{
    free(g_src);
    free(g_want);
    free(g_got);
    g_src = g_want = g_got = NULL;
}

TestSuite(dtconv, .fini = dtconv_fini);

static const char *short_name(c2s_dtype dt)
{
    switch (dt) {
    case C2S_F64:
        return "f64";
    case C2S_F32:
        return "f32";
    case C2S_F16:
        return "f16";
    case C2S_BF16:
        return "bf16";
    default:
        return "?";
    }
}

/* Whole file, malloc'd; NULL if it cannot be opened. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    cr_assert_eq(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    cr_assert_geq(size, 0);
    rewind(f);
    unsigned char *buf = malloc((size_t)size + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)size, f), (size_t)size, "short read on %s", path);
    fclose(f);
    *len = (size_t)size;
    return buf;
}

/* Little-endian element i of a buffer of size-byte elements. */
static uint64_t elem(const unsigned char *p, size_t size, size_t i)
{
    uint64_t v = 0;
    for (size_t k = size; k-- > 0;)
        v = v << 8 | p[i * size + k];
    return v;
}

static void put(unsigned char *p, size_t size, size_t i, uint64_t v)
{
    for (size_t k = 0; k < size; k++)
        p[i * size + k] = (unsigned char)(v >> 8 * k);
}

/* Fail naming the first element where got and want differ. */
static void compare(dtconv_path path, c2s_dtype from, c2s_dtype to, const char *what,
                    const unsigned char *src, const unsigned char *got, const unsigned char *want,
                    size_t n)
{
    size_t ss = c2s_dtype_size(from), ds = c2s_dtype_size(to);
    if (memcmp(got, want, n * ds) == 0)
        return;
    size_t i = 0, bad = 0;
    while (memcmp(got + i * ds, want + i * ds, ds) == 0)
        i++;
    for (size_t j = i; j < n; j++)
        bad += memcmp(got + j * ds, want + j * ds, ds) != 0;
    cr_assert_fail("%s -> %s (%s, %s path): %zu of %zu elements differ; first [%zu]: "
                   "source 0x%0*" PRIx64 ", ours 0x%0*" PRIx64 ", %s 0x%0*" PRIx64,
                   short_name(from), short_name(to), what, dtconv_path_name(path), bad, n, i,
                   (int)(2 * ss), elem(src, ss, i), (int)(2 * ds), elem(got, ds, i),
                   strcmp(what, "literals") == 0 ? "expected" : "torch", (int)(2 * ds),
                   elem(want, ds, i));
}

/* Convert src_<from>.bin and compare with <from>_to_<to>.bin (the source
 * itself for a same-type pair): whole, then streamed in odd-sized blocks. */
static void check_pair_path(dtconv_path dp, c2s_dtype from, c2s_dtype to)
{
    char path[256];
    size_t slen, wlen;
    size_t ss = c2s_dtype_size(from), ds = c2s_dtype_size(to);
    snprintf(path, sizeof path, FIXDIR "src_%s.bin", short_name(from));
    g_src = slurp(path, &slen);
    if (g_src == NULL)
        cr_skip_test("%s missing: run /usr/bin/python3 fixtures/make_dtconv.py", path);
    if (from == to) {
        g_want = slurp(path, &wlen);
    } else {
        snprintf(path, sizeof path, FIXDIR "%s_to_%s.bin", short_name(from), short_name(to));
        g_want = slurp(path, &wlen);
    }
    cr_assert_not_null(g_want, "%s missing", path);
    cr_assert_eq(slen % ss, 0);
    cr_assert_eq(wlen % ds, 0);
    size_t n = wlen / ds; /* torch's results may cover a prefix only */
    cr_assert(n > 0 && n <= slen / ss, "%s: %zu elements for %zu sources", path, n, slen / ss);

    g_got = malloc(wlen);
    cr_assert_not_null(g_got);
    memset(g_got, 0xA5, wlen);
    cr_assert_eq(dtconv_run_path(dp, from, to, g_src, g_got, n), 0);
    compare(dp, from, to, "whole", g_src, g_got, g_want, n);

    memset(g_got, 0xA5, wlen);
    static const size_t blocks[] = {1, 7, 1000, 3, 4096};
    for (size_t i = 0, b = 0; i < n; b++) {
        size_t k = blocks[b % 5] < n - i ? blocks[b % 5] : n - i;
        cr_assert_eq(dtconv_run_path(dp, from, to, g_src + i * ss, g_got + i * ds, k), 0);
        i += k;
    }
    compare(dp, from, to, "blocks", g_src, g_got, g_want, n);

    if (ds <= ss) { /* in place */
        cr_assert_eq(dtconv_run_path(dp, from, to, g_src, g_src, n), 0);
        free(g_got);
        g_got = g_src;
        snprintf(path, sizeof path, FIXDIR "src_%s.bin", short_name(from));
        g_src = slurp(path, &slen);
        cr_assert_not_null(g_src);
        compare(dp, from, to, "in place", g_src, g_got, g_want, n);
    }
    dtconv_fini();
}

/* Every usable path; the scalar one always is. */
static void check_pair(c2s_dtype from, c2s_dtype to)
{
    cr_assert(dtconv_path_usable(DTCONV_SCALAR));
    for (int p = 0; p < DTCONV_NPATHS; p++)
        if (dtconv_path_usable((dtconv_path)p))
            check_pair_path((dtconv_path)p, from, to);
}

#define PAIR(F, T, f, t)             \
    Test(dtconv, torch_##f##_to_##t) \
    {                                \
        check_pair(F, T);            \
    }

PAIR(C2S_F64, C2S_F64, f64, f64)
PAIR(C2S_F64, C2S_F32, f64, f32)
PAIR(C2S_F64, C2S_F16, f64, f16)
PAIR(C2S_F64, C2S_BF16, f64, bf16)
PAIR(C2S_F32, C2S_F64, f32, f64)
PAIR(C2S_F32, C2S_F32, f32, f32)
PAIR(C2S_F32, C2S_F16, f32, f16)
PAIR(C2S_F32, C2S_BF16, f32, bf16)
PAIR(C2S_F16, C2S_F64, f16, f64)
PAIR(C2S_F16, C2S_F32, f16, f32)
PAIR(C2S_F16, C2S_F16, f16, f16)
PAIR(C2S_F16, C2S_BF16, f16, bf16)
PAIR(C2S_BF16, C2S_F64, bf16, f64)
PAIR(C2S_BF16, C2S_F32, bf16, f32)
PAIR(C2S_BF16, C2S_F16, bf16, f16)
PAIR(C2S_BF16, C2S_BF16, bf16, bf16)

/* ---- literal cases ------------------------------------------------------ */

typedef struct kase {
    uint64_t src, want;
} kase;

/* The cases repeated to fill LITERAL_N elements (not a multiple of any
 * vector width: whole vectors and a scalar tail), through every path. */
#define LITERAL_N 61

static void check_cases(c2s_dtype from, c2s_dtype to, const kase *cases, size_t n)
{
    size_t ss = c2s_dtype_size(from), ds = c2s_dtype_size(to);
    unsigned char sbuf[LITERAL_N * 8 + 1], gbuf[LITERAL_N * 8 + 2], want[LITERAL_N * 8];
    unsigned char *src = sbuf + 1, *got = gbuf + 1; /* misaligned on purpose */
    cr_assert(n > 0 && n <= LITERAL_N);
    for (size_t i = 0; i < LITERAL_N; i++) {
        put(src, ss, i, cases[i % n].src);
        put(want, ds, i, cases[i % n].want);
    }
    for (int p = 0; p < DTCONV_NPATHS; p++) {
        if (!dtconv_path_usable((dtconv_path)p))
            continue;
        memset(gbuf, 0xA5, sizeof gbuf);
        cr_assert_eq(dtconv_run_path((dtconv_path)p, from, to, src, got, LITERAL_N), 0);
        compare((dtconv_path)p, from, to, "literals", src, got, want, LITERAL_N);
        cr_assert_eq(gbuf[1 + LITERAL_N * ds], 0xA5, "%s path wrote past the end",
                     dtconv_path_name((dtconv_path)p));
    }
}

#define CHECK(F, T, ...)                                    \
    do {                                                    \
        const kase cs_[] = {__VA_ARGS__};                   \
        check_cases(F, T, cs_, sizeof cs_ / sizeof cs_[0]); \
    } while (0)

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

Test(dtconv, f32_to_f16_literals)
{
    cr_assert_eq(fbits(65519.99f), 0x477FEFFDu);
    CHECK(C2S_F32, C2S_F16, {0x3F800000u /* 1.0f */, 0x3C00}, {0xBF800000u /* -1.0f */, 0xBC00},
          {0x477FE000u /* 65504 */, 0x7BFF}, {0x477FEFFDu /* 65519.99f */, 0x7BFF},
          {0x477FEFFFu /* largest below 65520 */, 0x7BFF},
          {0x477FF000u /* 65520: ties to even, which is inf */, 0x7C00}, {0xC77FF000u, 0xFC00},
          {0x7F7FFFFFu /* FLT_MAX */, 0x7C00}, {0x7F800000u, 0x7C00}, {0xFF800000u, 0xFC00},
          {0x00000000u, 0x0000}, {0x80000000u, 0x8000},
          {0x33800000u /* 2^-24, smallest subnormal */, 0x0001},
          {0x33000000u /* 2^-25: ties to zero */, 0x0000}, {0xB3000000u, 0x8000},
          {0x33000001u /* just above 2^-25 */, 0x0001},
          {0x33C00000u /* 1.5 * 2^-24: ties to 2 */, 0x0002},
          {0x38800000u /* 2^-14, smallest normal */, 0x0400},
          {0x387FC000u /* largest subnormal */, 0x03FF},
          {0x387FE000u /* halfway 0x3FF / 0x400: ties to even */, 0x0400},
          {0x3F801000u /* 1 + 2^-11: ties to even 1.0 */, 0x3C00},
          {0x3F803000u /* 1 + 3 * 2^-11: ties to even */, 0x3C02}, {0x3F801001u, 0x3C01},
          {0x7FC00000u /* NaNs keep the sign only */, 0x7E00}, {0xFFC00000u, 0xFE00},
          {0x7F800001u /* signalling, payload in low bits */, 0x7E00}, {0xFFA12345u, 0xFE00},
          {0x7FFFFFFFu, 0x7E00});
}

Test(dtconv, f32_to_bf16_literals)
{
    cr_assert_eq(fbits(1.00390625f), 0x3F808000u);
    CHECK(C2S_F32, C2S_BF16, {0x3F800000u, 0x3F80},
          {0x3F808000u /* 1.00390625f: ties to even, down */, 0x3F80},
          {0x3F818000u /* 1.01171875f: ties to even, up */, 0x3F82}, {0x3F808001u, 0x3F81},
          {0x3F807FFFu, 0x3F80}, {0x7F7FFFFFu /* FLT_MAX rounds to inf */, 0x7F80},
          {0x7F7F7FFFu, 0x7F7F}, {0xFF800000u, 0xFF80},
          {0x00000001u /* F32 subnormals round like the rest */, 0x0000}, {0x00008000u, 0x0000},
          {0x00018000u, 0x0002}, {0x80000000u, 0x8000},
          {0x7FC00000u /* torch's vector kernel: NaN is 0xFFFF */, 0xFFFF}, {0xFFC00000u, 0xFFFF},
          {0x7F800001u, 0xFFFF}, {0xFF812345u, 0xFFFF});
}

Test(dtconv, f64_narrowing_literals)
{
    CHECK(C2S_F64, C2S_F32, {dbits(1.0), 0x3F800000u}, {dbits(0.1), 0x3DCCCCCDu},
          {0x47EFFFFFE0000000u /* FLT_MAX */, 0x7F7FFFFFu}, {0x47EFFFFFEFFFFFFFu, 0x7F7FFFFFu},
          {0x47EFFFFFF0000000u /* FLT_MAX + half ulp: inf */, 0x7F800000u},
          {0xC7EFFFFFF0000000u, 0xFF800000u}, {dbits(1e300), 0x7F800000u},
          {0x36A0000000000000u /* 2^-149 */, 0x00000001u},
          {0x3690000000000000u /* 2^-150: ties to zero */, 0x00000000u},
          {0xB690000000000001u, 0x80000001u},
          {0x36A8000000000000u /* 1.5 * 2^-149: ties to 2 */, 0x00000002u},
          {0x380FFFFFF0000000u /* halfway to 2^-126 */, 0x00800000u},
          {0x0000000000000001u, 0x00000000u}, {0x7FF8000000000000u, 0x7FC00000u},
          {0xFFF8000000000000u, 0xFFC00000u},
          {0x7FF4000000000001u /* signalling: quietened, top payload kept */, 0x7FE00000u},
          {0x7FF0000000000001u /* payload below F32's: still NaN */, 0x7FC00000u},
          {0xFFF0000020000000u, 0xFFC00001u});
    /* Double rounding, as torch: through F32, then ties to even. */
    CHECK(C2S_F64, C2S_F16, {dbits(1.0 + 0x1p-11 + 0x1p-40), 0x3C00},
          {dbits(1.0 + 0x1p-11 + 0x1p-20), 0x3C01}, {dbits(65520.0 - 0x1p-20), 0x7C00},
          {dbits(65519.0), 0x7BFF}, {0x7FF0000000000001u, 0x7E00}, {0xFFF8000000000000u, 0xFE00});
    CHECK(C2S_F64, C2S_BF16, {dbits(1.0 + 0x1p-8 + 0x1p-40), 0x3F80},
          {dbits(1.0 + 0x1p-8 + 0x1p-20), 0x3F81}, {0x7FF0000000000001u, 0xFFFF},
          {0xFFF8000000000000u, 0xFFFF});
}

Test(dtconv, widening_literals)
{
    CHECK(C2S_F16, C2S_F32, {0x3C00, 0x3F800000u}, {0x0001 /* smallest subnormal */, 0x33800000u},
          {0x8001, 0xB3800000u}, {0x03FF, 0x387FC000u}, {0x7BFF, 0x477FE000u},
          {0x7C00, 0x7F800000u}, {0xFC00, 0xFF800000u},
          {0x7C01 /* signalling: quietened, payload kept */, 0x7FC02000u}, {0xFE00, 0xFFC00000u},
          {0x7FFF, 0x7FFFE000u});
    CHECK(C2S_F16, C2S_BF16, {0x3C00, 0x3F80}, {0x3C01 /* 1 + 2^-10 */, 0x3F80},
          {0x3C04 /* 1 + 2^-8: ties to even, down */, 0x3F80},
          {0x3C0C /* 1 + 3 * 2^-8: ties to even, up */, 0x3F82}, {0x0001, 0x3380}, {0x7C00, 0x7F80},
          {0xFE00 /* c10::BFloat16: positive 0x7FC0 */, 0x7FC0}, {0x7C01, 0x7FC0});
    CHECK(C2S_BF16, C2S_F32, {0x3F80, 0x3F800000u}, {0x0001, 0x00010000u},
          {0x7F81 /* kept signalling */, 0x7F810000u}, {0xFFC0, 0xFFC00000u});
    CHECK(C2S_BF16, C2S_F16, {0x3F80, 0x3C00}, {0x4780 /* 65536 */, 0x7C00}, {0x7F81, 0x7E00},
          {0xFFC0, 0xFE00});
    CHECK(C2S_F32, C2S_F64, {0x3F800000u, dbits(1.0)},
          {0x00000001u /* 2^-149 */, 0x36A0000000000000u}, {0x807FFFFFu, 0xB80FFFFFC0000000u},
          {0x7F800000u, 0x7FF0000000000000u},
          {0x7F800001u /* signalling: quietened */, 0x7FF8000020000000u},
          {0xFFC00000u, 0xFFF8000000000000u});
    CHECK(C2S_F16, C2S_F64, {0x0001, 0x3E70000000000000u}, {0x7C01, 0x7FF8040000000000u});
    CHECK(C2S_BF16, C2S_F64, {0x7F81 /* quietened on the way */, 0x7FF8200000000000u},
          {0x8001, 0xB7A0000000000000u});
}

Test(dtconv, same_type_copies_bits)
{
    CHECK(C2S_F32, C2S_F32, {0x7F800001u, 0x7F800001u}, {0xFFA12345u, 0xFFA12345u});
    CHECK(C2S_F64, C2S_F64, {0x7FF0000000000001u, 0x7FF0000000000001u});
    CHECK(C2S_BF16, C2S_BF16, {0x7F81, 0x7F81});
    CHECK(C2S_F16, C2S_F16, {0x7C01, 0x7C01});
}

Test(dtconv, supported_pairs)
{
    for (int f = 0; f < C2S_DTYPE_COUNT; f++) {
        for (int t = 0; t < C2S_DTYPE_COUNT; t++) {
            int ff = f == C2S_F64 || f == C2S_F32 || f == C2S_F16 || f == C2S_BF16;
            int tf = t == C2S_F64 || t == C2S_F32 || t == C2S_F16 || t == C2S_BF16;
            cr_assert_eq(dtconv_supported((c2s_dtype)f, (c2s_dtype)t), ff && tf, "%s -> %s",
                         c2s_dtype_name((c2s_dtype)f), c2s_dtype_name((c2s_dtype)t));
        }
    }
}

Test(dtconv, unsupported_pair_writes_nothing)
{
    unsigned char src[16] = {1, 2, 3, 4}, dst[16];
    memset(dst, 0x5A, sizeof dst);
    cr_assert_eq(dtconv_run(C2S_I32, C2S_F32, src, dst, 4), -1);
    cr_assert_eq(dtconv_run(C2S_F32, C2S_I32, src, dst, 4), -1);
    cr_assert_eq(dtconv_run(C2S_F8_E4M3, C2S_F16, src, dst, 4), -1);
    cr_assert_eq(dtconv_run(C2S_C64, C2S_F32, src, dst, 2), -1);
    for (size_t i = 0; i < sizeof dst; i++)
        cr_assert_eq(dst[i], 0x5A);
}

Test(dtconv, zero_elements)
{
    cr_assert_eq(dtconv_run(C2S_F32, C2S_F16, NULL, NULL, 0), 0);
    cr_assert_eq(dtconv_run(C2S_F16, C2S_F16, NULL, NULL, 0), 0);
}

/* Every F16 pattern through F32 and back is the identity, NaNs aside. */
Test(dtconv, f16_round_trip)
{
    static unsigned char h[65536 * 2], f[65536 * 4], back[65536 * 2];
    for (size_t i = 0; i < 65536; i++)
        put(h, 2, i, i);
    for (int p = 0; p < DTCONV_NPATHS; p++) {
        if (!dtconv_path_usable((dtconv_path)p))
            continue;
        cr_assert_eq(dtconv_run_path((dtconv_path)p, C2S_F16, C2S_F32, h, f, 65536), 0);
        cr_assert_eq(dtconv_run_path((dtconv_path)p, C2S_F32, C2S_F16, f, back, 65536), 0);
        for (size_t i = 0; i < 65536; i++) {
            uint64_t want = (i & 0x7FFF) > 0x7C00 ? (i & 0x8000) | 0x7E00 : i;
            cr_assert_eq(elem(back, 2, i), want, "0x%04zx (%s path)", i,
                         dtconv_path_name((dtconv_path)p));
        }
    }
}

/* The paths: named, the best one usable, an out-of-range one refused. */
Test(dtconv, paths)
{
    cr_assert_str_eq(dtconv_path_name(DTCONV_SCALAR), "scalar");
    cr_assert_str_eq(dtconv_path_name(DTCONV_AVX2), "avx2");
    cr_assert_str_eq(dtconv_path_name(DTCONV_AVX512), "avx512");
    cr_assert(dtconv_path_usable(dtconv_best_path()));
    cr_assert_not(dtconv_path_usable(DTCONV_NPATHS));
    unsigned char src[4] = {0, 0, 0x80, 0x3F}, dst[2] = {0x5A, 0x5A};
    cr_assert_eq(dtconv_run_path(DTCONV_NPATHS, C2S_F32, C2S_F16, src, dst, 1), -1);
    cr_assert(dst[0] == 0x5A && dst[1] == 0x5A);
    cr_assert_eq(dtconv_run_path(DTCONV_SCALAR, C2S_F32, C2S_F16, src, dst, 1), 0);
    cr_assert(dst[0] == 0x00 && dst[1] == 0x3C);
#if defined(__x86_64__)
    /* the machines this is developed and tested on have AVX2: make sure the
     * vector path is really exercised there (set C2S_NO_AVX2_TEST=1 elsewhere) */
    if (getenv("C2S_NO_AVX2_TEST") == NULL)
        cr_assert(dtconv_path_usable(DTCONV_AVX2), "no AVX2 path on this x86-64 CPU");
#endif
}

/* dtconv_run runs the best path and the vector paths keep the FPU's
 * rounding mode out of it: with MXCSR set to round up, F64 -> F32 still
 * rounds to nearest (the vector loops give way to the scalar ones). */
#if defined(__x86_64__)
#include <xmmintrin.h>

Test(dtconv, vector_paths_ignore_rounding_mode)
{
    uint64_t d[16];
    unsigned char src[16 * 8], dst[16 * 4];
    for (size_t i = 0; i < 16; i++)
        d[i] = dbits(1.0 + 0x1p-30); /* nearest: 1.0; rounded up: 1 + 2^-23 */
    memcpy(src, d, sizeof src);
    unsigned int csr = _mm_getcsr();
    for (int p = 0; p < DTCONV_NPATHS; p++) {
        if (!dtconv_path_usable((dtconv_path)p))
            continue;
        _mm_setcsr((csr & ~0x6000u) | 0x4000u); /* round up */
        int rc = dtconv_run_path((dtconv_path)p, C2S_F64, C2S_F32, src, dst, 16);
        _mm_setcsr(csr);
        cr_assert_eq(rc, 0);
        for (size_t i = 0; i < 16; i++)
            cr_assert_eq(elem(dst, 4, i), 0x3F800000u, "[%zu] (%s path)", i,
                         dtconv_path_name((dtconv_path)p));
    }
}
#endif
