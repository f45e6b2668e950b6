/*
 * tfproto.c - decoding BundleHeaderProto and BundleEntryProto (see
 * src/tf/tfproto.h).
 *
 * A message is a sequence of fields, each a varint key (field number << 3 |
 * wire type) and a payload: 0 varint, 1 eight bytes, 2 varint length and
 * that many bytes, 5 four bytes.  pb_next reads one field, bounded by the
 * message it is in; the decoders switch on the field number and check the
 * wire type before using the payload.
 */
#include "tf/tfproto.h"

#include <string.h>

#include "tf/sstable.h"

enum { WT_VARINT = 0, WT_FIXED64 = 1, WT_LEN = 2, WT_FIXED32 = 5 };

typedef struct pbf {
    uint32_t num;
    int wt;
    uint64_t v;       /* varint and fixed payloads */
    const uint8_t *p; /* length-delimited payload */
    size_t len;
} pbf;

/* The next field of p[*pos..n) into *f; *got = 0 at the end. */
static c2s_status pb_next(const uint8_t *p, size_t n, size_t *pos, pbf *f, int *got, c2s_error *err)
{
    *got = 0;
    if (*pos >= n)
        return C2S_OK;
    uint64_t key;
    size_t start = *pos;
    if (sst_varint64(p, n, pos, &key) != 0)
        return c2s_fail(err, C2S_ERR_INPUT, "bad field key at byte %zu", start);
    f->num = (uint32_t)(key >> 3);
    f->wt = (int)(key & 7);
    if (key >> 3 == 0 || key >> 3 > 0x1fffffff)
        return c2s_fail(err, C2S_ERR_INPUT, "invalid field number %llu at byte %zu",
                        (unsigned long long)(key >> 3), start);
    switch (f->wt) {
    case WT_VARINT:
        if (sst_varint64(p, n, pos, &f->v) != 0)
            return c2s_fail(err, C2S_ERR_INPUT, "field %u: bad varint", f->num);
        break;
    case WT_FIXED64:
    case WT_FIXED32: {
        size_t w = f->wt == WT_FIXED64 ? 8 : 4;
        if (n - *pos < w)
            return c2s_fail(err, C2S_ERR_INPUT, "field %u: truncated", f->num);
        f->v = 0;
        for (size_t i = 0; i < w; i++)
            f->v |= (uint64_t)p[*pos + i] << (8 * i);
        *pos += w;
        break;
    }
    case WT_LEN: {
        uint64_t len;
        if (sst_varint64(p, n, pos, &len) != 0 || len > n - *pos)
            return c2s_fail(err, C2S_ERR_INPUT, "field %u: length past the end of its message",
                            f->num);
        f->p = p + *pos;
        f->len = (size_t)len;
        *pos += (size_t)len;
        break;
    }
    default:
        return c2s_fail(err, C2S_ERR_INPUT, "field %u: unsupported wire type %d", f->num, f->wt);
    }
    *got = 1;
    return C2S_OK;
}

static c2s_status want(const pbf *f, int wt, const char *name, c2s_error *err)
{
    if (f->wt == wt)
        return C2S_OK;
    return c2s_fail(err, C2S_ERR_INPUT, "%s: wire type %d, expected %d", name, f->wt, wt);
}

/* An int32 field: a varint whose 64-bit two's complement value fits. */
static c2s_status get_int32(const pbf *f, const char *name, int32_t *out, c2s_error *err)
{
    if (want(f, WT_VARINT, name, err) != C2S_OK)
        return C2S_ERR_INPUT;
    int64_t v = (int64_t)f->v;
    if (v < INT32_MIN || v > INT32_MAX)
        return c2s_fail(err, C2S_ERR_INPUT, "%s: %lld is not an int32", name, (long long)v);
    *out = (int32_t)v;
    return C2S_OK;
}

static c2s_status get_int64(const pbf *f, const char *name, int64_t *out, c2s_error *err)
{
    if (want(f, WT_VARINT, name, err) != C2S_OK)
        return C2S_ERR_INPUT;
    *out = (int64_t)f->v;
    return C2S_OK;
}

/* ---- header -------------------------------------------------------------- */

static void add_bad_consumer(tfp_header *h, int32_t v)
{
    if (h->nbad_consumers < sizeof h->bad_consumers / sizeof h->bad_consumers[0])
        h->bad_consumers[h->nbad_consumers] = v;
    h->nbad_consumers++;
}

/* bad_consumers: packed (one length-delimited run of varints) or not. */
static c2s_status bad_consumers(const pbf *f, tfp_header *h, c2s_error *err)
{
    int32_t v;
    if (f->wt != WT_LEN) {
        if (get_int32(f, "version.bad_consumers", &v, err) != C2S_OK)
            return C2S_ERR_INPUT;
        add_bad_consumer(h, v);
        return C2S_OK;
    }
    size_t pos = 0;
    while (pos < f->len) {
        pbf one = {.num = 3, .wt = WT_VARINT};
        if (sst_varint64(f->p, f->len, &pos, &one.v) != 0)
            return c2s_fail(err, C2S_ERR_INPUT, "version.bad_consumers: bad packed varint");
        if (get_int32(&one, "version.bad_consumers", &v, err) != C2S_OK)
            return C2S_ERR_INPUT;
        add_bad_consumer(h, v);
    }
    return C2S_OK;
}

static c2s_status version_decode(const uint8_t *p, size_t n, tfp_header *h, c2s_error *err)
{
    size_t pos = 0;
    pbf f;
    int got = 1;
    c2s_status st = C2S_OK;
    while (st == C2S_OK && (st = pb_next(p, n, &pos, &f, &got, err)) == C2S_OK && got) {
        if (f.num == 1)
            st = get_int32(&f, "version.producer", &h->producer, err);
        else if (f.num == 2)
            st = get_int32(&f, "version.min_consumer", &h->min_consumer, err);
        else if (f.num == 3)
            st = bad_consumers(&f, h, err);
    }
    return st;
}

c2s_status tfp_header_decode(const uint8_t *p, size_t n, tfp_header *h, c2s_error *err)
{
    memset(h, 0, sizeof *h);
    size_t pos = 0;
    pbf f;
    int got = 1;
    c2s_status st = C2S_OK;
    while (st == C2S_OK && (st = pb_next(p, n, &pos, &f, &got, err)) == C2S_OK && got) {
        if (f.num == 1)
            st = get_int32(&f, "num_shards", &h->num_shards, err);
        else if (f.num == 2)
            st = get_int32(&f, "endianness", &h->endianness, err);
        else if (f.num == 3) {
            st = want(&f, WT_LEN, "version", err);
            if (st == C2S_OK)
                st = version_decode(f.p, f.len, h, err);
        }
    }
    return st;
}

int tfp_looks_like_v1(const uint8_t *p, size_t n)
{
    return n > 0 && p[0] == ((1 << 3) | WT_LEN);
}

/* ---- entry --------------------------------------------------------------- */

static c2s_status dim_decode(const uint8_t *p, size_t n, tfp_entry *e, c2s_error *err)
{
    if (e->ndim >= TFP_MAX_NDIM)
        return c2s_fail(err, C2S_ERR_INPUT, "shape: more than %d dimensions", TFP_MAX_NDIM);
    int64_t size = 0;
    size_t pos = 0;
    pbf f;
    int got = 1;
    c2s_status st = C2S_OK;
    while (st == C2S_OK && (st = pb_next(p, n, &pos, &f, &got, err)) == C2S_OK && got) {
        if (f.num == 1)
            st = get_int64(&f, "shape.dim.size", &size, err);
        else if (f.num == 2)
            st = want(&f, WT_LEN, "shape.dim.name", err);
    }
    if (st == C2S_OK)
        e->dims[e->ndim++] = size;
    return st;
}

static c2s_status shape_decode(const uint8_t *p, size_t n, tfp_entry *e, c2s_error *err)
{
    size_t pos = 0;
    pbf f;
    int got = 1;
    c2s_status st = C2S_OK;
    while (st == C2S_OK && (st = pb_next(p, n, &pos, &f, &got, err)) == C2S_OK && got) {
        if (f.num == 2) {
            st = want(&f, WT_LEN, "shape.dim", err);
            if (st == C2S_OK)
                st = dim_decode(f.p, f.len, e, err);
        } else if (f.num == 3) {
            st = want(&f, WT_VARINT, "shape.unknown_rank", err);
            if (st == C2S_OK)
                e->unknown_rank = f.v != 0;
        }
    }
    return st;
}

/* TensorSliceProto: extents of varint start and length; checked, not kept. */
static c2s_status slice_check(const uint8_t *p, size_t n, int depth, c2s_error *err)
{
    size_t pos = 0;
    pbf f;
    int got = 1;
    c2s_status st = C2S_OK;
    while (st == C2S_OK && (st = pb_next(p, n, &pos, &f, &got, err)) == C2S_OK && got) {
        if (depth == 0 && f.num == 1) {
            st = want(&f, WT_LEN, "slices.extent", err);
            if (st == C2S_OK)
                st = slice_check(f.p, f.len, 1, err);
        } else if (depth == 1 && (f.num == 1 || f.num == 2)) {
            st = want(&f, WT_VARINT, f.num == 1 ? "slices.extent.start" : "slices.extent.length",
                      err);
        }
    }
    return st;
}

static c2s_status entry_field(const pbf *f, tfp_entry *e, c2s_error *err)
{
    switch (f->num) {
    case 1:
        return get_int32(f, "dtype", &e->dtype, err);
    case 2:
        if (want(f, WT_LEN, "shape", err) != C2S_OK)
            return C2S_ERR_INPUT;
        return shape_decode(f->p, f->len, e, err);
    case 3:
        return get_int32(f, "shard_id", &e->shard_id, err);
    case 4:
        return get_int64(f, "offset", &e->offset, err);
    case 5:
        return get_int64(f, "size", &e->size, err);
    case 6:
        if (want(f, WT_FIXED32, "crc32c", err) != C2S_OK)
            return C2S_ERR_INPUT;
        e->crc32c = (uint32_t)f->v;
        return C2S_OK;
    case 7:
        if (want(f, WT_LEN, "slices", err) != C2S_OK)
            return C2S_ERR_INPUT;
        e->nslices++;
        return slice_check(f->p, f->len, 0, err);
    default:
        return C2S_OK;
    }
}

c2s_status tfp_entry_decode(const uint8_t *p, size_t n, tfp_entry *e, c2s_error *err)
{
    memset(e, 0, sizeof *e);
    size_t pos = 0;
    pbf f;
    int got = 1;
    c2s_status st = C2S_OK;
    while (st == C2S_OK && (st = pb_next(p, n, &pos, &f, &got, err)) == C2S_OK && got)
        st = entry_field(&f, e, err);
    return st;
}

/* ---- object graph --------------------------------------------------------- */

static c2s_status attribute_decode(const uint8_t *p, size_t n, tfp_attr_fn fn, void *ctx,
                                   c2s_error *err)
{
    const uint8_t *key = NULL, *full = NULL;
    size_t klen = 0, flen = 0;
    size_t pos = 0;
    pbf f;
    int got = 1;
    c2s_status st = C2S_OK;
    while (st == C2S_OK && (st = pb_next(p, n, &pos, &f, &got, err)) == C2S_OK && got) {
        if (f.num == 1)
            st = want(&f, WT_LEN, "attributes.name", err);
        else if (f.num == 2 && (st = want(&f, WT_LEN, "attributes.full_name", err)) == C2S_OK) {
            full = f.p;
            flen = f.len;
        } else if (f.num == 3 &&
                   (st = want(&f, WT_LEN, "attributes.checkpoint_key", err)) == C2S_OK) {
            key = f.p;
            klen = f.len;
        }
    }
    if (st == C2S_OK && key != NULL)
        st = fn(ctx, key, klen, full, flen, err);
    return st;
}

static c2s_status node_decode(const uint8_t *p, size_t n, tfp_attr_fn fn, void *ctx, c2s_error *err)
{
    size_t pos = 0;
    pbf f;
    int got = 1;
    c2s_status st = C2S_OK;
    while (st == C2S_OK && (st = pb_next(p, n, &pos, &f, &got, err)) == C2S_OK && got)
        if (f.num == 2 && (st = want(&f, WT_LEN, "nodes.attributes", err)) == C2S_OK)
            st = attribute_decode(f.p, f.len, fn, ctx, err);
    return st;
}

c2s_status tfp_object_graph_walk(const uint8_t *p, size_t n, tfp_attr_fn fn, void *ctx,
                                 c2s_error *err)
{
    size_t pos = 0;
    pbf f;
    int got = 1;
    c2s_status st = C2S_OK;
    while (st == C2S_OK && (st = pb_next(p, n, &pos, &f, &got, err)) == C2S_OK && got)
        if (f.num == 1 && (st = want(&f, WT_LEN, "nodes", err)) == C2S_OK)
            st = node_decode(f.p, f.len, fn, ctx, err);
    return st;
}
