/*
 * dtconv.c - float element conversion (see src/engine/dtconv.h).
 *
 * Every conversion works on bit patterns in integers.  The narrowing ones
 * round to nearest even with the usual trick: add half an ulp of the target
 * minus one, plus the bit that will become the last one kept, then shift.
 * Each pair has its own loop so that the compiler inlines the conversion;
 * the byte-wise loads and stores compile to plain moves on little-endian
 * machines.  The pairs that go through F32 mirror what torch does: its
 * F64 -> F16 is Half(float(double)), its F16 -> BF16 BFloat16(float(half)).
 *
 * Vector loops (x86-64 with GCC or clang).  Every pair they cover goes
 * through F32 lanes, as the scalar code does: a load turns 8 (AVX2) or 16
 * (AVX-512) source elements into F32 bit patterns, a store turns those into
 * destination elements.  The instructions that do it and their quirks:
 *  - F16 -> F32: vcvtph2ps (exact; NaN keeps sign and payload, quiet bit
 *    set: what f16_to_f32 does).  BF16 -> F32: a shift.
 *  - F64 -> F32: vcvtpd2ps, rounding to nearest even under the default
 *    MXCSR (NaN: sign and top payload kept, quietened, as f64_to_f32).
 *  - F32 -> F16: vcvtps2ph with the rounding mode in its immediate (to
 *    nearest even); it keeps NaN payloads, so NaN lanes are then replaced
 *    by 0x7E00 with the sign, as f32_to_f16 gives.
 *  - F32 -> BF16: the same integer rounding as f32_to_bf16, 32-bit lanes,
 *    NaN lanes replaced by the pair's NaN, then narrowed to 16 bits.
 * Loads and stores are unaligned and cover exactly the elements converted;
 * a vector's source is loaded before its result is stored, so in-place
 * narrowing works as in the scalar loops.  The elements after the last
 * whole vector go through the scalar loop.
 */
#include "engine/dtconv.h"
#include "util/le.h"

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DTCONV_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* ---- little-endian stores (the loads: util/le.h) ------------------------ */

static inline void st16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static inline void st32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void st64(unsigned char *p, uint64_t v)
{
    st32(p, (uint32_t)v);
    st32(p + 4, (uint32_t)(v >> 32));
}

/* ---- element conversions ------------------------------------------------ */

/* F64 -> F32.  NaN: sign and top 22 payload bits kept, quiet bit set (as
 * the x86 cvtsd2ss instruction does). */
static inline uint32_t f64_to_f32(uint64_t x)
{
    uint32_t sign = (uint32_t)(x >> 32) & 0x80000000u;
    uint64_t a = x & 0x7FFFFFFFFFFFFFFFu;
    if (a >= 0x3810000000000000u) {     /* >= 2^-126: normal F32 or more */
        if (a >= 0x47EFFFFFF0000000u) { /* >= FLT_MAX + half ulp */
            if (a > 0x7FF0000000000000u)
                return sign | 0x7FC00000u | (uint32_t)(a >> 29 & 0x3FFFFFu);
            return sign | 0x7F800000u;
        }
        a -= (uint64_t)(1023 - 127) << 52; /* rebias the exponent */
        return sign | (uint32_t)((a + 0x0FFFFFFFu + (a >> 29 & 1u)) >> 29);
    }
    if (a <= 0x3690000000000000u) /* <= 2^-150: ties to zero */
        return sign;
    /* F32 subnormal: a count of 2^-149 units. */
    unsigned shift = 926u - (unsigned)(a >> 52); /* 30 .. 53 */
    uint64_t m = (a & 0x000FFFFFFFFFFFFFu) | 0x0010000000000000u;
    uint64_t half = (uint64_t)1 << (shift - 1);
    return sign | (uint32_t)((m + half - 1u + (m >> shift & 1u)) >> shift);
}

/* F32 -> F16 (c10::Half's fp16_ieee_from_fp32_value).  NaN: 0x7E00 with
 * the sign. */
static inline uint16_t f32_to_f16(uint32_t x)
{
    uint32_t sign = x >> 16 & 0x8000u;
    uint32_t a = x & 0x7FFFFFFFu;
    if (a >= 0x38800000u) {   /* >= 2^-14: normal F16 or more */
        if (a >= 0x477FF000u) /* >= 65520 */
            return (uint16_t)(sign | (a > 0x7F800000u ? 0x7E00u : 0x7C00u));
        a -= (uint32_t)(127 - 15) << 23;
        return (uint16_t)(sign | (a + 0x0FFFu + (a >> 13 & 1u)) >> 13);
    }
    if (a <= 0x33000000u) /* <= 2^-25: ties to zero */
        return (uint16_t)sign;
    /* F16 subnormal: a count of 2^-24 units. */
    unsigned shift = 126u - (a >> 23); /* 14 .. 24 */
    uint32_t m = (a & 0x007FFFFFu) | 0x00800000u;
    uint32_t half = 1u << (shift - 1);
    return (uint16_t)(sign | (m + half - 1u + (m >> shift & 1u)) >> shift);
}

/* F32 -> BF16, NaN giving nan (torch: 0xFFFF in its vector kernels, 0x7FC0
 * in c10::BFloat16). */
static inline uint16_t f32_to_bf16(uint32_t x, uint16_t nan)
{
    if ((x & 0x7FFFFFFFu) > 0x7F800000u)
        return nan;
    return (uint16_t)((x + 0x7FFFu + (x >> 16 & 1u)) >> 16);
}

/* F16 -> F32, exact.  NaN: sign and payload kept, quiet bit set. */
static inline uint32_t f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = h >> 10 & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F)
        return sign | 0x7F800000u | (m ? 0x00400000u | m << 13 : 0u);
    if (e != 0)
        return sign | (e + 127 - 15) << 23 | m << 13;
    if (m == 0)
        return sign;
    e = 127 - 14; /* subnormal: normalise */
    do {
        m <<= 1;
        e--;
    } while (!(m & 0x400u));
    return sign | e << 23 | (m & 0x3FFu) << 13;
}

/* F32 -> F64, exact.  NaN: sign and payload kept, quiet bit set. */
static inline uint64_t f32_to_f64(uint32_t x)
{
    uint64_t sign = (uint64_t)(x & 0x80000000u) << 32;
    uint32_t e = x >> 23 & 0xFFu, m = x & 0x007FFFFFu;
    if (e == 0xFF)
        return sign | 0x7FF0000000000000u | (m ? 0x0008000000000000u | (uint64_t)m << 29 : 0u);
    if (e != 0)
        return sign | (uint64_t)(e + 1023 - 127) << 52 | (uint64_t)m << 29;
    if (m == 0)
        return sign;
    e = 1023 - 126; /* subnormal: normalise */
    do {
        m <<= 1;
        e--;
    } while (!(m & 0x00800000u));
    return sign | (uint64_t)e << 52 | (uint64_t)(m & 0x007FFFFFu) << 29;
}

static inline uint32_t bf16_to_f32(uint16_t b)
{
    return (uint32_t)b << 16;
}

/* ---- one loop per pair -------------------------------------------------- */

#define LOOP(NAME, SSZ, LOAD, DSZ, STORE, EXPR)                          \
    static void NAME(const unsigned char *s, unsigned char *d, size_t n) \
    {                                                                    \
        for (size_t i = 0; i < n; i++, s += SSZ, d += DSZ)               \
            STORE(d, EXPR(LOAD(s)));                                     \
    }

#define F64_F16(x) f32_to_f16(f64_to_f32(x))
#define F64_BF16(x) f32_to_bf16(f64_to_f32(x), 0xFFFFu)
#define F32_BF16(x) f32_to_bf16(x, 0xFFFFu)
#define F16_F64(x) f32_to_f64(f16_to_f32(x))
#define F16_BF16(x) f32_to_bf16(f16_to_f32(x), 0x7FC0u)
#define BF16_F64(x) f32_to_f64(bf16_to_f32(x))
#define BF16_F16(x) f32_to_f16(bf16_to_f32(x))

LOOP(run_f64_f32, 8, le64, 4, st32, f64_to_f32)
LOOP(run_f64_f16, 8, le64, 2, st16, F64_F16)
LOOP(run_f64_bf16, 8, le64, 2, st16, F64_BF16)
LOOP(run_f32_f64, 4, le32, 8, st64, f32_to_f64)
LOOP(run_f32_f16, 4, le32, 2, st16, f32_to_f16)
LOOP(run_f32_bf16, 4, le32, 2, st16, F32_BF16)
LOOP(run_f16_f64, 2, le16, 8, st64, F16_F64)
LOOP(run_f16_f32, 2, le16, 4, st32, f16_to_f32)
LOOP(run_f16_bf16, 2, le16, 2, st16, F16_BF16)
LOOP(run_bf16_f64, 2, le16, 8, st64, BF16_F64)
LOOP(run_bf16_f32, 2, le16, 4, st32, bf16_to_f32)
LOOP(run_bf16_f16, 2, le16, 2, st16, BF16_F16)

typedef void (*loop_fn)(const unsigned char *, unsigned char *, size_t);

static const loop_fn SCALAR[4][4] = {
    /* [from][to]; NULL: same type */
    {NULL, run_f64_f32, run_f64_f16, run_f64_bf16},
    {run_f32_f64, NULL, run_f32_f16, run_f32_bf16},
    {run_f16_f64, run_f16_f32, NULL, run_f16_bf16},
    {run_bf16_f64, run_bf16_f32, run_bf16_f16, NULL},
};

/* Row: index of the float type (F64, F32, F16, BF16), or -1. */
static int float_index(c2s_dtype dt)
{
    switch (dt) {
    case C2S_F64:
        return 0;
    case C2S_F32:
        return 1;
    case C2S_F16:
        return 2;
    case C2S_BF16:
        return 3;
    default:
        return -1;
    }
}

static const size_t ELEM_SIZE[4] = {8, 4, 2, 2};

#ifdef DTCONV_X86

/* ---- AVX2 + F16C: 8 elements at a time ------------------------------------ */

#define AVX2 __attribute__((target("avx2,f16c")))

AVX2 static inline __m256i ld8_f32(const unsigned char *s)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)s);
}

AVX2 static inline __m256i ld8_f16(const unsigned char *s)
{
    __m128i h = _mm_loadu_si128((const __m128i *)(const void *)s);
    return _mm256_castps_si256(_mm256_cvtph_ps(h));
}

AVX2 static inline __m256i ld8_bf16(const unsigned char *s)
{
    __m128i b = _mm_loadu_si128((const __m128i *)(const void *)s);
    return _mm256_slli_epi32(_mm256_cvtepu16_epi32(b), 16);
}

AVX2 static inline __m256i ld8_f64(const unsigned char *s)
{
    __m128 lo = _mm256_cvtpd_ps(_mm256_loadu_pd((const double *)(const void *)s));
    __m128 hi = _mm256_cvtpd_ps(_mm256_loadu_pd((const double *)(const void *)(s + 32)));
    return _mm256_castps_si256(_mm256_set_m128(hi, lo));
}

/* All ones in the lanes of x (F32 bit patterns) that are NaN. */
AVX2 static inline __m256i nan8(__m256i x)
{
    __m256i a = _mm256_and_si256(x, _mm256_set1_epi32(0x7FFFFFFF));
    return _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F800000));
}

AVX2 static inline void st8_f32(unsigned char *d, __m256i x)
{
    _mm256_storeu_si256((__m256i *)(void *)d, x);
}

AVX2 static inline void st8_f16(unsigned char *d, __m256i x)
{
    __m128i h = _mm256_cvtps_ph(_mm256_castsi256_ps(x), _MM_FROUND_TO_NEAREST_INT);
    __m256i nan = nan8(x);
    __m128i m = _mm_packs_epi32(_mm256_castsi256_si128(nan), _mm256_extracti128_si256(nan, 1));
    __m128i q = _mm_or_si128(_mm_and_si128(h, _mm_set1_epi16((short)0x8000)),
                             _mm_set1_epi16(0x7E00));
    _mm_storeu_si128((__m128i *)(void *)d, _mm_blendv_epi8(h, q, m));
}

/* BF16 in the low half of 32-bit lanes, NaN lanes nan. */
AVX2 static inline void st8_bf16_nan(unsigned char *d, __m256i x, int nan)
{
    __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(x, _mm256_set1_epi32(0x7FFF)), lsb);
    r = _mm256_blendv_epi8(_mm256_srli_epi32(r, 16), _mm256_set1_epi32(nan), nan8(x));
    __m128i b = _mm_packus_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    _mm_storeu_si128((__m128i *)(void *)d, b);
}

AVX2 static inline void st8_bf16(unsigned char *d, __m256i x)
{
    st8_bf16_nan(d, x, 0xFFFF);
}
AVX2 static inline void st8_bf16q(unsigned char *d, __m256i x)
{
    st8_bf16_nan(d, x, 0x7FC0);
}

#define VLOOP(ATTR, NAME, W, SSZ, LOAD, DSZ, STORE, TAIL)                     \
    ATTR static void NAME(const unsigned char *s, unsigned char *d, size_t n) \
    {                                                                         \
        size_t i = 0;                                                         \
        for (; n - i >= W; i += W, s += W * SSZ, d += W * DSZ)                \
            STORE(d, LOAD(s));                                                \
        TAIL(s, d, n - i);                                                    \
    }

VLOOP(AVX2, avx2_f64_f32, 8, 8, ld8_f64, 4, st8_f32, run_f64_f32)
VLOOP(AVX2, avx2_f64_f16, 8, 8, ld8_f64, 2, st8_f16, run_f64_f16)
VLOOP(AVX2, avx2_f64_bf16, 8, 8, ld8_f64, 2, st8_bf16, run_f64_bf16)
VLOOP(AVX2, avx2_f32_f16, 8, 4, ld8_f32, 2, st8_f16, run_f32_f16)
VLOOP(AVX2, avx2_f32_bf16, 8, 4, ld8_f32, 2, st8_bf16, run_f32_bf16)
VLOOP(AVX2, avx2_f16_f32, 8, 2, ld8_f16, 4, st8_f32, run_f16_f32)
VLOOP(AVX2, avx2_f16_bf16, 8, 2, ld8_f16, 2, st8_bf16q, run_f16_bf16)
VLOOP(AVX2, avx2_bf16_f32, 8, 2, ld8_bf16, 4, st8_f32, run_bf16_f32)
VLOOP(AVX2, avx2_bf16_f16, 8, 2, ld8_bf16, 2, st8_f16, run_bf16_f16)

/* ---- AVX-512: 16 elements at a time ---------------------------------------- */

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,f16c")))

AVX512 static inline __m512i ld16_f32(const unsigned char *s)
{
    return _mm512_loadu_si512((const void *)s);
}

AVX512 static inline __m512i ld16_f16(const unsigned char *s)
{
    __m256i h = _mm256_loadu_si256((const __m256i *)(const void *)s);
    return _mm512_castps_si512(_mm512_cvtph_ps(h));
}

AVX512 static inline __m512i ld16_bf16(const unsigned char *s)
{
    __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)s);
    return _mm512_slli_epi32(_mm512_cvtepu16_epi32(b), 16);
}

AVX512 static inline __m512i ld16_f64(const unsigned char *s)
{
    __m256 lo = _mm512_cvtpd_ps(_mm512_loadu_pd((const void *)s));
    __m256 hi = _mm512_cvtpd_ps(_mm512_loadu_pd((const void *)(s + 64)));
    __m512d both = _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)),
                                      _mm256_castps_pd(hi), 1);
    return _mm512_castpd_si512(both);
}

AVX512 static inline __mmask16 nan16(__m512i x)
{
    __m512i a = _mm512_and_si512(x, _mm512_set1_epi32(0x7FFFFFFF));
    return _mm512_cmpgt_epi32_mask(a, _mm512_set1_epi32(0x7F800000));
}

AVX512 static inline void st16_f32(unsigned char *d, __m512i x)
{
    _mm512_storeu_si512((void *)d, x);
}

AVX512 static inline void st16_f16(unsigned char *d, __m512i x)
{
    __m256i h = _mm512_cvtps_ph(_mm512_castsi512_ps(x), _MM_FROUND_TO_NEAREST_INT);
    __m256i q = _mm256_or_si256(_mm256_and_si256(h, _mm256_set1_epi16((short)0x8000)),
                                _mm256_set1_epi16(0x7E00));
    _mm256_storeu_si256((__m256i *)(void *)d, _mm256_mask_mov_epi16(h, nan16(x), q));
}

AVX512 static inline void st16_bf16_nan(unsigned char *d, __m512i x, int nan)
{
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_add_epi32(_mm512_add_epi32(x, _mm512_set1_epi32(0x7FFF)), lsb);
    r = _mm512_mask_mov_epi32(_mm512_srli_epi32(r, 16), nan16(x), _mm512_set1_epi32(nan));
    _mm256_storeu_si256((__m256i *)(void *)d, _mm512_cvtepi32_epi16(r));
}

AVX512 static inline void st16_bf16(unsigned char *d, __m512i x)
{
    st16_bf16_nan(d, x, 0xFFFF);
}
AVX512 static inline void st16_bf16q(unsigned char *d, __m512i x)
{
    st16_bf16_nan(d, x, 0x7FC0);
}

VLOOP(AVX512, avx512_f64_f32, 16, 8, ld16_f64, 4, st16_f32, run_f64_f32)
VLOOP(AVX512, avx512_f64_f16, 16, 8, ld16_f64, 2, st16_f16, run_f64_f16)
VLOOP(AVX512, avx512_f64_bf16, 16, 8, ld16_f64, 2, st16_bf16, run_f64_bf16)
VLOOP(AVX512, avx512_f32_f16, 16, 4, ld16_f32, 2, st16_f16, run_f32_f16)
VLOOP(AVX512, avx512_f32_bf16, 16, 4, ld16_f32, 2, st16_bf16, run_f32_bf16)
VLOOP(AVX512, avx512_f16_f32, 16, 2, ld16_f16, 4, st16_f32, run_f16_f32)
VLOOP(AVX512, avx512_f16_bf16, 16, 2, ld16_f16, 2, st16_bf16q, run_f16_bf16)
VLOOP(AVX512, avx512_bf16_f32, 16, 2, ld16_bf16, 4, st16_f32, run_bf16_f32)
VLOOP(AVX512, avx512_bf16_f16, 16, 2, ld16_bf16, 2, st16_f16, run_bf16_f16)

/* NULL: no vector loop (same type, or widening to F64: the scalar one). */
static const loop_fn VECTOR[2][4][4] = {
    {{NULL, avx2_f64_f32, avx2_f64_f16, avx2_f64_bf16},
     {NULL, NULL, avx2_f32_f16, avx2_f32_bf16},
     {NULL, avx2_f16_f32, NULL, avx2_f16_bf16},
     {NULL, avx2_bf16_f32, avx2_bf16_f16, NULL}},
    {{NULL, avx512_f64_f32, avx512_f64_f16, avx512_f64_bf16},
     {NULL, NULL, avx512_f32_f16, avx512_f32_bf16},
     {NULL, avx512_f16_f32, NULL, avx512_f16_bf16},
     {NULL, avx512_bf16_f32, avx512_bf16_f16, NULL}},
};

/* F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports
 * does not know the name "f16c". */
static int cpu_has_f16c(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) != 0;
}

static int cpu_has(dtconv_path p)
{
    __builtin_cpu_init(); /* idempotent; needed if called before constructors ran */
    if (p == DTCONV_AVX2)
        return __builtin_cpu_supports("avx2") && cpu_has_f16c();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") && cpu_has_f16c();
}

/* The MXCSR bits the vector loops need clear: rounding control (13-14),
 * flush-to-zero (15), denormals-are-zero (6). */
static int fpu_default(void)
{
    return (_mm_getcsr() & 0xE040u) == 0;
}

static loop_fn vector_loop(dtconv_path p, int f, int t)
{
    return p != DTCONV_SCALAR && fpu_default() ? VECTOR[p - 1][f][t] : NULL;
}

#else /* no vector loops */

static int cpu_has(dtconv_path p)
{
    return p == DTCONV_SCALAR;
}

static loop_fn vector_loop(dtconv_path p, int f, int t)
{
    (void)p;
    (void)f;
    (void)t;
    return NULL;
}

#endif

/* ---- entry points ---------------------------------------------------------- */

const char *dtconv_path_name(dtconv_path p)
{
    static const char *const NAMES[DTCONV_NPATHS] = {"scalar", "avx2", "avx512"};
    return (unsigned)p < DTCONV_NPATHS ? NAMES[p] : "?";
}

int dtconv_path_usable(dtconv_path p)
{
    return p == DTCONV_SCALAR || ((unsigned)p < DTCONV_NPATHS && cpu_has(p));
}

dtconv_path dtconv_best_path(void)
{
    if (dtconv_path_usable(DTCONV_AVX512))
        return DTCONV_AVX512;
    return dtconv_path_usable(DTCONV_AVX2) ? DTCONV_AVX2 : DTCONV_SCALAR;
}

int dtconv_supported(c2s_dtype from, c2s_dtype to)
{
    return float_index(from) >= 0 && float_index(to) >= 0;
}

void dtconv_run_on(dtconv_path p, c2s_dtype from, c2s_dtype to, const void *src, void *dst,
                   size_t n)
{
    int f = float_index(from), t = float_index(to);
    if (f < 0 || t < 0 || n == 0)
        return;
    if (f == t) {
        memmove(dst, src, n * ELEM_SIZE[f]);
        return;
    }
    loop_fn v = vector_loop(p, f, t);
    (v != NULL ? v : SCALAR[f][t])(src, dst, n);
}

int dtconv_run_path(dtconv_path p, c2s_dtype from, c2s_dtype to, const void *src, void *dst,
                    size_t n)
{
    if (float_index(from) < 0 || float_index(to) < 0 || !dtconv_path_usable(p))
        return -1;
    dtconv_run_on(p, from, to, src, dst, n);
    return 0;
}

int dtconv_run(c2s_dtype from, c2s_dtype to, const void *src, void *dst, size_t n)
{
    return dtconv_run_path(dtconv_best_path(), from, to, src, dst, n);
}
