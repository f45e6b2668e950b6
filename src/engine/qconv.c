/*
 * qconv.c - dequantizing quantized tensors as torch does (see qconv.h).
 *
 * qconv_load() reads a per-channel tensor's scales and zero points: each
 * is a 1-d view (the tensor map checked its length and type) whose span is
 * read from its storage record with one read and picked out by stride.
 * qconv_run() is a plain loop per element; the channel of element i is
 * (i / inner) % channels.
 */
#include "engine/qconv.h"

#include <stdlib.h>
#include <string.h>

static int64_t load_int(const unsigned char *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v |= (uint64_t)p[i] << (8 * i);
    if (size < 8 && (v >> (8 * size - 1)) & 1)
        v |= ~(uint64_t)0 << (8 * size);
    return (int64_t)v;
}

static double load_real(const unsigned char *p, c2s_dtype dt)
{
    if (dt == C2S_F32) {
        uint32_t b = (uint32_t)load_int(p, 4);
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    uint64_t b = (uint64_t)load_int(p, 8);
    double d;
    memcpy(&d, &b, 8);
    return d;
}

/* The span of 1-d view t read from its record into a new buffer. */
static c2s_status read_view(c2s_checkpoint *ck, const tmap_tensor *t, unsigned char **out,
                            c2s_error *err)
{
    size_t es = c2s_dtype_size(t->dtype);
    uint64_t span = t->numel ? ((t->numel - 1) * (uint64_t)t->stride[0] + 1) * es : 0;
    *out = malloc(span ? (size_t)span : 1); /* inside the storage: checked when mapping */
    if (*out == NULL)
        return c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    rd_stream s;
    c2s_status st = rd_stream_open(&ck->rd, ck->map.storages[t->storage].key, &s, err);
    if (st == C2S_OK) {
        st = rd_stream_read(&s, t->offset * es, *out, (size_t)span, err);
        rd_stream_close(&s);
    }
    return st;
}

static c2s_status load_channels(c2s_checkpoint *ck, qconv *qc, c2s_error *err)
{
    const tmap_tensor *sc = &ck->map.qparams[qc->q->scales];
    const tmap_tensor *zp = &ck->map.qparams[qc->q->zero_points];
    size_t n = (size_t)qc->qi->channels;
    qc->scales = malloc((n ? n : 1) * sizeof *qc->scales);
    qc->zero_points = malloc((n ? n : 1) * sizeof *qc->zero_points);
    unsigned char *sbuf = NULL, *zbuf = NULL;
    c2s_status st = qc->scales && qc->zero_points ? C2S_OK
                                                  : c2s_fail(err, C2S_ERR_INPUT, "out of memory");
    if (st == C2S_OK)
        st = read_view(ck, sc, &sbuf, err);
    if (st == C2S_OK)
        st = read_view(ck, zp, &zbuf, err);
    size_t ses = c2s_dtype_size(sc->dtype), zes = c2s_dtype_size(zp->dtype);
    for (size_t c = 0; st == C2S_OK && c < n; c++) {
        qc->scales[c] = load_real(sbuf + c * (uint64_t)sc->stride[0] * ses, sc->dtype);
        qc->zero_points[c] = (float)load_int(zbuf + c * (uint64_t)zp->stride[0] * zes, zes);
    }
    free(sbuf);
    free(zbuf);
    if (st != C2S_OK)
        c2s_error_prefix(err, "quantizer parameters");
    return st;
}

c2s_status qconv_load(c2s_checkpoint *ck, const tmap_tensor *t, qconv *qc, c2s_error *err)
{
    memset(qc, 0, sizeof *qc);
    qc->q = &t->q;
    qc->qi = tmap_quant_of(&ck->map, t);
    qc->from = t->dtype;
    if (t->q.scheme == TMAP_Q_PER_TENSOR) {
        qc->scale = (float)qc->qi->scale;
        qc->zero_point = (int32_t)(uint32_t)(uint64_t)qc->qi->zero_point;
        return C2S_OK;
    }
    return load_channels(ck, qc, err);
}

void qconv_free(qconv *qc)
{
    free(qc->scales);
    free(qc->zero_points);
    qc->scales = NULL;
    qc->zero_points = NULL;
}

static void store_f32(unsigned char *p, float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(b >> (8 * i));
}

void qconv_run(const qconv *qc, const void *src, unsigned char *dst, size_t n, uint64_t first)
{
    const unsigned char *p = src;
    size_t es = c2s_dtype_size(qc->from);
    for (size_t i = 0; i < n; i++) {
        int32_t q = (int32_t)(qc->from == C2S_U8 ? (int64_t)p[i] : load_int(p + i * es, es));
        if (qc->q->scheme == TMAP_Q_PER_TENSOR) {
            int32_t d = (int32_t)((uint32_t)q - (uint32_t)qc->zero_point);
            store_f32(dst + 4 * i, (float)d * qc->scale);
        } else {
            size_t c = (size_t)(((first + i) / qc->qi->inner) % qc->qi->channels);
            store_f32(dst + 4 * i, (float)(((float)q - qc->zero_points[c]) * qc->scales[c]));
        }
    }
}
