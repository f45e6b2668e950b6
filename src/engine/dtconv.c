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
 */
#include "engine/dtconv.h"

#include <stdint.h>
#include <string.h>

/* ---- little-endian loads and stores ------------------------------------ */

static inline uint16_t ld16(const unsigned char *p)
{
    return (uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8);
}

static inline uint32_t ld32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t ld64(const unsigned char *p)
{
    return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}

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
    if (a >= 0x3810000000000000u) {          /* >= 2^-126: normal F32 or more */
        if (a >= 0x47EFFFFFF0000000u) {      /* >= FLT_MAX + half ulp */
            if (a > 0x7FF0000000000000u)
                return sign | 0x7FC00000u | (uint32_t)(a >> 29 & 0x3FFFFFu);
            return sign | 0x7F800000u;
        }
        a -= (uint64_t)(1023 - 127) << 52;   /* rebias the exponent */
        return sign | (uint32_t)((a + 0x0FFFFFFFu + (a >> 29 & 1u)) >> 29);
    }
    if (a <= 0x3690000000000000u)            /* <= 2^-150: ties to zero */
        return sign;
    /* F32 subnormal: a count of 2^-149 units. */
    unsigned shift = 926u - (unsigned)(a >> 52);          /* 30 .. 53 */
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
    if (a >= 0x38800000u) {                  /* >= 2^-14: normal F16 or more */
        if (a >= 0x477FF000u)                /* >= 65520 */
            return (uint16_t)(sign | (a > 0x7F800000u ? 0x7E00u : 0x7C00u));
        a -= (uint32_t)(127 - 15) << 23;
        return (uint16_t)(sign | (a + 0x0FFFu + (a >> 13 & 1u)) >> 13);
    }
    if (a <= 0x33000000u)                    /* <= 2^-25: ties to zero */
        return (uint16_t)sign;
    /* F16 subnormal: a count of 2^-24 units. */
    unsigned shift = 126u - (a >> 23);       /* 14 .. 24 */
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
    e = 127 - 14;                            /* subnormal: normalise */
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
    e = 1023 - 126;                          /* subnormal: normalise */
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

#define LOOP(NAME, SSZ, LOAD, DSZ, STORE, EXPR)                                  \
    static void NAME(const unsigned char *s, unsigned char *d, size_t n)         \
    {                                                                            \
        for (size_t i = 0; i < n; i++, s += SSZ, d += DSZ)                       \
            STORE(d, EXPR(LOAD(s)));                                             \
    }

#define F64_F16(x) f32_to_f16(f64_to_f32(x))
#define F64_BF16(x) f32_to_bf16(f64_to_f32(x), 0xFFFFu)
#define F32_BF16(x) f32_to_bf16(x, 0xFFFFu)
#define F16_F64(x) f32_to_f64(f16_to_f32(x))
#define F16_BF16(x) f32_to_bf16(f16_to_f32(x), 0x7FC0u)
#define BF16_F64(x) f32_to_f64(bf16_to_f32(x))
#define BF16_F16(x) f32_to_f16(bf16_to_f32(x))

LOOP(run_f64_f32, 8, ld64, 4, st32, f64_to_f32)
LOOP(run_f64_f16, 8, ld64, 2, st16, F64_F16)
LOOP(run_f64_bf16, 8, ld64, 2, st16, F64_BF16)
LOOP(run_f32_f64, 4, ld32, 8, st64, f32_to_f64)
LOOP(run_f32_f16, 4, ld32, 2, st16, f32_to_f16)
LOOP(run_f32_bf16, 4, ld32, 2, st16, F32_BF16)
LOOP(run_f16_f64, 2, ld16, 8, st64, F16_F64)
LOOP(run_f16_f32, 2, ld16, 4, st32, f16_to_f32)
LOOP(run_f16_bf16, 2, ld16, 2, st16, F16_BF16)
LOOP(run_bf16_f64, 2, ld16, 8, st64, BF16_F64)
LOOP(run_bf16_f32, 2, ld16, 4, st32, bf16_to_f32)
LOOP(run_bf16_f16, 2, ld16, 2, st16, BF16_F16)

typedef void (*loop_fn)(const unsigned char *, unsigned char *, size_t);

/* Row: index of the float type (F64, F32, F16, BF16), or -1. */
static int float_index(c2s_dtype dt)
{
    switch (dt) {
    case C2S_F64: return 0;
    case C2S_F32: return 1;
    case C2S_F16: return 2;
    case C2S_BF16: return 3;
    default: return -1;
    }
}

static const loop_fn LOOPS[4][4] = {     /* [from][to]; NULL: same type */
    {NULL, run_f64_f32, run_f64_f16, run_f64_bf16},
    {run_f32_f64, NULL, run_f32_f16, run_f32_bf16},
    {run_f16_f64, run_f16_f32, NULL, run_f16_bf16},
    {run_bf16_f64, run_bf16_f32, run_bf16_f16, NULL},
};

int dtconv_supported(c2s_dtype from, c2s_dtype to)
{
    return float_index(from) >= 0 && float_index(to) >= 0;
}

int dtconv_run(c2s_dtype from, c2s_dtype to, const void *src, void *dst, size_t n)
{
    int f = float_index(from), t = float_index(to);
    if (f < 0 || t < 0)
        return -1;
    if (n == 0)
        return 0;
    if (f == t)
        memmove(dst, src, n * c2s_dtype_size(from));
    else
        LOOPS[f][t](src, dst, n);
    return 0;
}
