/*
 * qconv.h - dequantizing: the F32 values of a quantized tensor, bit-exact
 * with torch's Tensor.dequantize() (torch 1.13, x86-64 CPU).
 *
 * What torch computes (measured on torch 1.13 over random tensors of every
 * size, type and axis by fixtures/make_modules.py's checks, and matched
 * here bit for bit):
 *
 *   per tensor:   (float)(int32)(q - zero_point) * (float)scale
 *                 in float arithmetic: the difference is taken in 32-bit
 *                 integers (wrapping, as torch's int32 kernel does for
 *                 qint32 values far from the zero point), converted to
 *                 float, and multiplied by the scale rounded to float.
 *   per channel:  (float)(((float)q - (float)zero_point[c]) * scale[c])
 *                 the difference in float, the product in double with the
 *                 channel's scale as stored (F64), rounded to float.
 *
 * Conversions round to nearest; the code relies on the default IEEE
 * rounding mode and on float arithmetic in float (FLT_EVAL_METHOD 0, as on
 * x86-64 and AArch64).
 *
 * A per-channel tensor's scales and zero points are read from their storage
 * records when the tensor is written (qconv_load): memory in proportion to
 * the number of channels, never to the tensor.
 */
#ifndef QCONV_H
#define QCONV_H

#include <stddef.h>
#include <stdint.h>

#include "engine/checkpoint.h"

typedef struct qconv {
    const tmap_qref *q;
    const tmap_quant *qi; /* its parameters */
    c2s_dtype from;       /* I8, U8 or I32 */
    float scale;          /* per tensor */
    int32_t zero_point;
    double *scales; /* per channel: q->channels of each */
    float *zero_points;
} qconv;

/* Ready to dequantize tensor t of ck (per channel: reads its scales and
 * zero points).  qconv_free() in every case. */
c2s_status qconv_load(c2s_checkpoint *ck, const tmap_tensor *t, qconv *qc, c2s_error *err);
void qconv_free(qconv *qc);

/* Dequantize n little-endian elements at src, the tensor's elements
 * first .. first + n - 1 in C order, into n little-endian F32 values at
 * dst (4 * n bytes). */
void qconv_run(const qconv *qc, const void *src, unsigned char *dst, size_t n, uint64_t first);

#endif /* QCONV_H */
