/*
 * dtconv.h - float element conversion for --dtype, bit-exact with PyTorch.
 *
 * dtconv_run() converts a block of elements between F64, F32, F16 and BF16,
 * giving the same bytes as torch 1.13's `tensor.to(dtype)` on an x86-64 CPU
 * (AVX2 kernels).  It works on any block size, so a tensor can be streamed
 * through a small buffer.  Pure integer code: the result does not depend on
 * the FPU's rounding mode, flush-to-zero, compiler flags or host byte order.
 *
 * What PyTorch does, and so what this does (checked against torch by
 * tests/test_dtconv.c on the data of fixtures/make_dtconv.py):
 *
 *  - Narrowing rounds to nearest, ties to even; too large gives an infinity;
 *    results below the normal range are subnormal (no flush to zero).
 *  - F64 -> F16 and F64 -> BF16 round twice, through F32, as torch does
 *    (1 + 2^-11 + 2^-40 gives F16 1.0, not the next value up).
 *  - NaN stays NaN; its bits:
 *      F64 -> F32, F32 -> F64,      sign and the top payload bits kept,
 *      F16 -> F32/F64, BF16 -> F64: quiet bit set
 *      BF16 -> F32:                 exact (a signalling NaN stays one)
 *      anything -> F16:             0x7E00 with the sign
 *      F64 or F32 -> BF16:          0xFFFF, whatever the sign
 *      F16 -> BF16:                 0x7FC0, whatever the sign
 *      same type:                   bytes copied unchanged
 *  - Widening is otherwise exact.
 *
 * Paths.  The conversions that --dtype and --verify use (F32, F16, BF16 and
 * F64 to F32, F16 or BF16) also have vector loops: AVX2 with F16C, and
 * AVX-512 (F, BW, VL), compiled with function target attributes so the
 * build stays portable and chosen at run time from what the CPU has.  They
 * give the same bytes as the scalar path, every pair and NaN included; the
 * tests run every path this CPU can run (dtconv_run_path).  The vector
 * loops use the FPU, so they are used only while the SSE control register
 * has its default state (round to nearest, no flush-to-zero, no
 * denormals-are-zero); otherwise the scalar path runs.
 *
 * One divergence is possible: torch's F64 -> BF16 kernel handles the last
 * (n mod 16) elements of each chunk it works on with scalar code that gives
 * NaN 0x7FC0 instead of 0xFFFF.  That depends on tensor length and thread
 * count, so this module always gives 0xFFFF, torch's answer for the rest.
 */
#ifndef DTCONV_H
#define DTCONV_H

#include <stddef.h>

#include "torch/dtype.h"

/* 1 if dtconv_run converts from -> to, else 0.  Both must be one of C2S_F64,
 * C2S_F32, C2S_F16, C2S_BF16 (all 16 pairs, same-type ones included).  Any
 * other type (integers, BOOL, C64, the F8 types) is never converted. */
int dtconv_supported(c2s_dtype from, c2s_dtype to);

/*
 * Convert n elements of type from at src into n elements of type to at dst.
 * Both buffers hold little-endian elements, as in checkpoints and
 * safetensors files, and need no particular alignment.  The buffers must not
 * overlap, except that dst may equal src when c2s_dtype_size(to) <=
 * c2s_dtype_size(from) (conversion in place).  No allocation, no global state:
 * safe to call from several threads.  Returns 0, or -1 without touching dst
 * when !dtconv_supported(from, to).
 */
int dtconv_run(c2s_dtype from, c2s_dtype to, const void *src, void *dst, size_t n);

/* The ways dtconv_run can convert: scalar integer code (everywhere), or
 * vector loops (x86-64 only, when the CPU has the instructions). */
typedef enum dtconv_path {
    DTCONV_SCALAR,
    DTCONV_AVX2,   /* AVX2 + F16C */
    DTCONV_AVX512, /* AVX-512 F + BW + VL (+ F16C) */
    DTCONV_NPATHS
} dtconv_path;

/* "scalar", "avx2", "avx512". */
const char *dtconv_path_name(dtconv_path p);

/* 1 if this build and this CPU can run path p. */
int dtconv_path_usable(dtconv_path p);

/* The fastest usable path: what dtconv_run uses. */
dtconv_path dtconv_best_path(void);

/* dtconv_run through path p, a path dtconv_best_path() gave, without
 * asking the CPU again (CPUID, a VM exit each time: for a checkpoint of
 * 200,000 tiny tensors converted one by one with dtconv_run, 3/4 of the
 * time).  Callers ask dtconv_best_path() once per file.  from -> to as
 * dtconv_supported() allows (nothing is done otherwise). */
void dtconv_run_on(dtconv_path p, c2s_dtype from, c2s_dtype to, const void *src, void *dst,
                   size_t n);

/* dtconv_run through path p (for tests and benchmarks): -1 without touching
 * dst when the pair is unsupported or !dtconv_path_usable(p).  Pairs that
 * p has no vector loop for, and the elements after the last whole vector,
 * go through the scalar code. */
int dtconv_run_path(dtconv_path p, c2s_dtype from, c2s_dtype to, const void *src, void *dst,
                    size_t n);

#endif /* DTCONV_H */
